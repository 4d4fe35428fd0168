/* TAP interface helpers (Linux /dev/net/tun). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev/net/tap.h"

static int name_to_ifr(const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	memcpy(ifr->ifr_name, name, strlen(name));
	return 0;
}

int vmb_tap_available(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

_Static_assert(VMB_TAP_NAME_MAX == IFNAMSIZ, "TAP names are interface names");

int vmb_tap_open(char name[VMB_TAP_NAME_MAX])
{
	struct ifreq ifr;
	int fd, rc = name_to_ifr(name, &ifr);

	if (rc < 0)
		return rc;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

/* Interface ioctls go through any socket of the current network namespace. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

int vmb_tap_up(const char *name)
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc == 0)
		rc = if_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		return rc;
	ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

int vmb_tap_get_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc == 0)
		rc = if_ioctl(SIOCGIFHWADDR, &ifr);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

int vmb_tap_set_mac(const char *name, const uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc < 0)
		return rc;
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return if_ioctl(SIOCSIFHWADDR, &ifr);
}
