#include <sandhost/sdk.h>

#define SH_SDK_STRINGIFY_(x) #x
#define SH_SDK_STRINGIFY(x) SH_SDK_STRINGIFY_(x)

const char *sh_sdk_version(void)
{
    return SH_SDK_STRINGIFY(SH_SDK_VERSION_MAJOR) "." SH_SDK_STRINGIFY(
        SH_SDK_VERSION_MINOR) "." SH_SDK_STRINGIFY(SH_SDK_VERSION_PATCH);
}
