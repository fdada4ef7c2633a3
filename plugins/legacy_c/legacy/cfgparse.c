/* cfgparse.c - parser for "name = value" lines of old settings files.

   Kept as found: cfg_parse_line assumes every line holds an '='. A line without one (the empty
   line included) makes it write through a NULL pointer and crash. sandhost's tests rely on that
   crash. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfgparse.h"

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

int cfg_parse_line(const char *line, struct cfg_entry *entry)
{
    char buf[CFG_LINE_MAX];
    char *eq;
    char *name;
    char *value;
    char *end;
    long n;

    if (strlen(line) >= sizeof buf)
        return CFG_ERR_TOO_LONG;
    strcpy(buf, line);

    eq = strchr(buf, '=');
    *eq = '\0';
    name = trim(buf);
    value = trim(eq + 1);

    if (*name == '\0')
        return CFG_ERR_NO_NAME;
    if (strlen(name) >= sizeof entry->name)
        return CFG_ERR_TOO_LONG;

    errno = 0;
    n = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE)
        return CFG_ERR_BAD_VALUE;

    strcpy(entry->name, name);
    entry->value = n;
    return CFG_OK;
}

const char *cfg_strerror(int code)
{
    switch (code) {
    case CFG_OK:
        return "no error";
    case CFG_ERR_TOO_LONG:
        return "line or name too long";
    case CFG_ERR_NO_NAME:
        return "no name before '='";
    case CFG_ERR_BAD_VALUE:
        return "value is not a decimal integer";
    default:
        return "unknown error";
    }
}
