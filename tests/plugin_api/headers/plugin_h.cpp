// plugin.h's check, compiled as C++.
#include "plugin_h.c"
