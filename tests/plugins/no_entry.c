/* Loader fixture: a shared object that is not a cebridge plugin (no ceb_plugin_entry). */
#include <cebridge/cebridge.h>

CEB_EXPORT int no_entry_answer(void);
int no_entry_answer(void)
{
    return 42;
}
