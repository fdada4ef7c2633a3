#include "model/version.h"

namespace sandhost::model {

const char* version() { return SANDHOST_VERSION; }

} // namespace sandhost::model
