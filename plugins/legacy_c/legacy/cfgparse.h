/* cfgparse.h - parser for "name = value" lines of old settings files. */
#ifndef LEGACY_CFGPARSE_H
#define LEGACY_CFGPARSE_H

#define CFG_NAME_MAX 64
#define CFG_LINE_MAX 256

#define CFG_OK 0
#define CFG_ERR_TOO_LONG 1
#define CFG_ERR_NO_NAME 2
#define CFG_ERR_BAD_VALUE 3

struct cfg_entry {
    char name[CFG_NAME_MAX];
    long value;
};

/* Parses one line "name = value", value a decimal integer, into *entry.
   Returns CFG_OK or one of the CFG_ERR_ codes. */
int cfg_parse_line(const char *line, struct cfg_entry *entry);

/* Returns a message for a code returned by cfg_parse_line. */
const char *cfg_strerror(int code);

#endif
