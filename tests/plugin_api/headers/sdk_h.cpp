// sdk.h and payload.h, compiled as C++.
#include "sdk_h.c"
