/* The `vmbus` command: one file per subcommand. */
#ifndef VMBUS_TOOL_H
#define VMBUS_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cmd_host(int argc, char **argv);
int cmd_guest(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

/* Default run directory: $XDG_RUNTIME_DIR/vmbus or /tmp/vmbus-<uid>. */
const char *tool_run_dir(const char *override, char *buf, size_t len);
/* Parse "5.3" / "0.13" / "6.0" into a version word; 0 on error. */
uint32_t tool_parse_version(const char *s);
/* mkdir -p */
int tool_mkdirs(const char *path);
/* Set *flag on SIGINT/SIGTERM. */
void tool_catch_signals(volatile sig_atomic_t *flag);

#endif
