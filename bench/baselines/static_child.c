/* Baseline posix_spawn_static: a statically linked process that answers one request
 * ("N\n" on stdin, "N+1\n" on stdout) and exits. No dynamic loader, no plugin. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char request[64];
    char reply[64];
    ssize_t n = read(0, request, sizeof request - 1);
    int length;
    if (n <= 0) return 1;
    request[n] = '\0';
    length = snprintf(reply, sizeof reply, "%lld\n", strtoll(request, NULL, 10) + 1);
    return write(1, reply, (size_t)length) == length ? 0 : 1;
}
