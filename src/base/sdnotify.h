/* placeholder until the sd_notify module lands */
#ifndef RP_SDNOTIFY_H
#define RP_SDNOTIFY_H
void sdnotify(const char *msg);
void sdnotify_reloading(void);
#endif
