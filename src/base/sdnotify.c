/* placeholder until the sd_notify module lands */
#include "base/sdnotify.h"
void
sdnotify(const char *msg)
{
    (void)msg;
}
void
sdnotify_reloading(void)
{
}
