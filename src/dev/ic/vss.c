/* VSS wire format and the guest's hook runner (PROTOCOL.md 5.7). */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

extern char **environ;

int vmb_vss_decode(const void *body, size_t len)
{
	const uint8_t *b = body;

	if (len < sizeof(struct hv_vss_msg) || len > VMB_VSS_MAX_BODY)
		return -EBADMSG;
	if (b[0] >= VSS_OP_COUNT)
		return -EINVAL;
	return b[0];
}

enum vmb_vss_action vmb_vss_action(int op)
{
	if (op == VSS_OP_FREEZE)
		return VMB_VSS_FREEZE;
	if (op == VSS_OP_THAW)
		return VMB_VSS_THAW;
	return VMB_VSS_REPLY;
}

uint32_t vmb_vss_reply(void *body, size_t len, int op, int hook_rc)
{
	struct hv_vss_msg m;

	if (len < sizeof(m))
		return HV_E_FAIL;
	memcpy(&m, body, sizeof(m));
	switch (op) {
	case VSS_OP_HOT_BACKUP:
		/* Hyper-V must not expect an auto-recovery step from us. */
		m.flags = VSS_HBU_NO_AUTO_RECOVERY;
		break;
	case VSS_OP_GET_DM_INFO:
		m.flags = 0;
		break;
	case VSS_OP_FREEZE:
	case VSS_OP_THAW:
		memcpy(body, &m, sizeof(m));
		return hook_rc == 0 ? HV_S_OK : HV_E_FAIL;
	case VSS_OP_BU_COMPLETE:
		break;
	default:
		/* CREATE, DELETE, AUTO_RECOVER: Linux does not implement them either. */
		return HV_ERROR_NOT_SUPPORTED;
	}
	memcpy(body, &m, sizeof(m));
	return HV_S_OK;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vmb_vss_run_hook(const char *cmd, int timeout_ms)
{
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	posix_spawnattr_t attr;
	long deadline = now_ms() + timeout_ms;
	int status, rc;
	pid_t pid, w;

	if (!cmd || !cmd[0])
		return 0;
	/* Own process group, so a timeout kills the hook's children too. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (rc)
		return -rc;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
		usleep(10000);
	if (w == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	if (w < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}
