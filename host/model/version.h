// The version of sandhost this code is, as the build names it (the project's version).
#pragma once

namespace sandhost::model {

const char* version();

} // namespace sandhost::model
