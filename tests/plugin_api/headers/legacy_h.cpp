// legacy.h's check, compiled as C++.
#include "legacy_h.c"
