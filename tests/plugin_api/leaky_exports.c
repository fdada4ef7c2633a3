/* A library built without sandhost_add_plugin: it exports more than sh_plugin_entry, so the
 * export check must reject it (its test is expected to fail). */
#include <sandhost/plugin.h>

int leaked_helper(int value);

int leaked_helper(int value)
{
    return value + 1;
}

static const sh_task_t tasks[] = {{"noop", "does nothing", NULL}};

SH_DEFINE_PLUGIN("leaky_exports", "0.0.0", tasks, NULL, NULL)
