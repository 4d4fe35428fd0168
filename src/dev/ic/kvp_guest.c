/* KVP, guest side: answer host requests from the pool files and the system. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

#define ADDR_LIST_MAX 1024

static const char *const auto_keys[] = {
    "FullyQualifiedDomainName",
    "IntegrationServicesVersion",
    "NetworkAddressIPv4",
    "NetworkAddressIPv6",
    "OSBuildNumber",
    "OSName",
    "OSMajorVersion",
    "OSMinorVersion",
    "OSVersion",
    "ProcessorArchitecture",
};
#define AUTO_KEY_COUNT (sizeof(auto_keys) / sizeof(auto_keys[0]))

static void append(char *list, size_t cap, const char *item)
{
	size_t n = strlen(list);

	if (n + strlen(item) + 2 > cap)
		return;
	if (n)
		list[n++] = ';';
	strcpy(list + n, item);
}

/* ';'-separated addresses (and prefixes as masks) of one family, loopback excluded. */
static void addresses(const char *ifname, int family, char *ips, char *masks, size_t cap)
{
	struct ifaddrs *ifa, *i;
	char buf[INET6_ADDRSTRLEN];

	ips[0] = '\0';
	if (masks)
		masks[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		const void *a, *m;

		if (!i->ifa_addr || i->ifa_addr->sa_family != family ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (ifname && strcmp(ifname, i->ifa_name))
			continue;
		if (family == AF_INET) {
			a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
			m = i->ifa_netmask
				? &((const struct sockaddr_in *)(const void *)i->ifa_netmask)
				       ->sin_addr
				: NULL;
		} else {
			a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
			m = i->ifa_netmask
				? &((const struct sockaddr_in6 *)(const void *)i->ifa_netmask)
				       ->sin6_addr
				: NULL;
		}
		if (inet_ntop(family, a, buf, sizeof(buf)))
			append(ips, cap, buf);
		if (masks && m && inet_ntop(family, m, buf, sizeof(buf)))
			append(masks, cap, buf);
	}
	freeifaddrs(ifa);
}

static int auto_value(uint32_t index, char *value)
{
	struct utsname u;
	unsigned maj = 0, min = 0;

	if (index >= AUTO_KEY_COUNT)
		return -ENOENT;
	uname(&u);
	sscanf(u.release, "%u.%u", &maj, &min);
	switch (index) {
	case 0:
		if (gethostname(value, VMB_KVP_VALUE_MAX) < 0)
			value[0] = '\0';
		value[VMB_KVP_VALUE_MAX - 1] = '\0';
		break;
	case 1:
		snprintf(value, VMB_KVP_VALUE_MAX, "3.1");
		break;
	case 2:
		addresses(NULL, AF_INET, value, NULL, VMB_KVP_VALUE_MAX);
		break;
	case 3:
		addresses(NULL, AF_INET6, value, NULL, VMB_KVP_VALUE_MAX);
		break;
	case 4:
		snprintf(value, VMB_KVP_VALUE_MAX, "%s", u.release);
		break;
	case 5:
		snprintf(value, VMB_KVP_VALUE_MAX, "%s", u.sysname);
		break;
	case 6:
		snprintf(value, VMB_KVP_VALUE_MAX, "%u", maj);
		break;
	case 7:
		snprintf(value, VMB_KVP_VALUE_MAX, "%u", min);
		break;
	case 8:
		snprintf(value, VMB_KVP_VALUE_MAX, "%s", u.version);
		break;
	default:
		snprintf(value, VMB_KVP_VALUE_MAX, "%s", u.machine);
		break;
	}
	return 0;
}

static int auto_get(const char *key, char *value)
{
	for (uint32_t i = 0; i < AUTO_KEY_COUNT; i++)
		if (!strcmp(key, auto_keys[i]))
			return auto_value(i, value);
	return -ENOENT;
}

/* "00:15:5D:..." or "00-15-5d-..." (the host's adapter id is the MAC) or an interface name. */
static int find_adapter(const char *id, char *ifname)
{
	struct ifaddrs *ifa, *i;
	int rc = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && rc; i = i->ifa_next) {
		const struct sockaddr_ll *ll = (const void *)i->ifa_addr;
		char mac[32];

		if (!strcmp(i->ifa_name, id))
			rc = 0;
		if (rc && ll && ll->sll_family == AF_PACKET && ll->sll_halen == 6) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0],
				 ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4],
				 ll->sll_addr[5]);
			for (char *p = mac; *p; p++)
				if (*p == ':' && id[p - mac] == '-')
					*p = '-';
			if (!strcasecmp(mac, id))
				rc = 0;
		}
		if (rc == 0)
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
	}
	freeifaddrs(ifa);
	return rc;
}

static uint32_t put_list(uint8_t *field, size_t bytes, const char *list)
{
	return vmb_utf8_to_utf16(list, field, bytes) < 0 ? HV_E_FAIL : HV_S_OK;
}

static uint32_t answer_ip(const struct vmb_kvp_req *r, uint8_t *b)
{
	char ifname[IF_NAMESIZE], ip4[ADDR_LIST_MAX], ip6[ADDR_LIST_MAX], m4[ADDR_LIST_MAX],
	    m6[ADDR_LIST_MAX], ips[ADDR_LIST_MAX] = "", masks[ADDR_LIST_MAX] = "";
	uint32_t st = HV_S_OK;

	if (r->op == KVP_OP_SET_IP_INFO)
		return HV_ERROR_NOT_SUPPORTED;
	if (find_adapter(r->adapter, ifname) < 0)
		return HV_E_FAIL;
	addresses(ifname, AF_INET, ip4, m4, sizeof(ip4));
	addresses(ifname, AF_INET6, ip6, m6, sizeof(ip6));
	append(ips, sizeof(ips), ip4);
	append(ips, sizeof(ips), ip6);
	append(masks, sizeof(masks), m4);
	append(masks, sizeof(masks), m6);
	b[offsetof(struct hv_kvp_ip_msg, addr_family)] =
	    (uint8_t)((ip4[0] ? 1 : 0) | (ip6[0] ? 2 : 0));
	b[offsetof(struct hv_kvp_ip_msg, dhcp_enabled)] = 0;
	st |= put_list(b + offsetof(struct hv_kvp_ip_msg, ip_addr), MAX_IP_ADDR_SIZE * 2, ips);
	st |= put_list(b + offsetof(struct hv_kvp_ip_msg, sub_net), MAX_IP_ADDR_SIZE * 2, masks);
	st |= put_list(b + offsetof(struct hv_kvp_ip_msg, gate_way), MAX_GATEWAY_SIZE * 2, "");
	st |= put_list(b + offsetof(struct hv_kvp_ip_msg, dns_addr), MAX_IP_ADDR_SIZE * 2, "");
	return st ? HV_E_FAIL : HV_S_OK;
}

static uint32_t answer_get(struct vmb_kvp_store *s, const struct vmb_kvp_req *r, uint8_t *b)
{
	struct hv_kvp_msg_value m;
	char value[VMB_KVP_VALUE_MAX];
	int rc;

	if (r->pool == KVP_POOL_AUTO)
		rc = auto_get(r->key, value);
	else
		rc = vmb_kvp_store_get(s, r->pool, r->key, value);
	if (rc < 0)
		return HV_E_FAIL;
	memcpy(&m, b, sizeof(m));
	if (vmb_kvp_put_record(&m.data, r->key, value) < 0)
		return HV_E_FAIL;
	memcpy(b, &m, sizeof(m));
	return HV_S_OK;
}

static uint32_t answer_enum(struct vmb_kvp_store *s, const struct vmb_kvp_req *r, uint8_t *b)
{
	struct hv_kvp_msg_enumerate m;
	char key[VMB_KVP_KEY_MAX], value[VMB_KVP_VALUE_MAX];
	int rc;

	if (r->pool == KVP_POOL_AUTO) {
		rc = auto_value(r->index, value);
		if (rc == 0)
			snprintf(key, sizeof(key), "%s", auto_keys[r->index]);
	} else {
		rc = vmb_kvp_store_enum(s, r->pool, r->index, key, value);
	}
	if (rc == -ENOENT)
		return HV_S_CONT;
	if (rc < 0)
		return HV_E_FAIL;
	memcpy(&m, b, sizeof(m));
	if (vmb_kvp_put_record(&m.data, key, value) < 0)
		return HV_E_FAIL;
	memcpy(b, &m, sizeof(m));
	return HV_S_OK;
}

uint32_t vmb_kvp_guest_answer(struct vmb_kvp_store *s, void *body, size_t len)
{
	struct vmb_kvp_req r;
	int rc = vmb_kvp_decode(body, len, &r);

	if (rc < 0)
		return rc == -EINVAL ? HV_INVALIDARG : HV_E_FAIL;
	switch (r.op) {
	case KVP_OP_GET:
		return answer_get(s, &r, body);
	case KVP_OP_SET:
		/* The AUTO pool is the guest's own data, never written by the host. */
		if (r.pool == KVP_POOL_AUTO)
			return HV_E_FAIL;
		return vmb_kvp_store_set(s, r.pool, r.key, r.value) < 0 ? HV_E_FAIL : HV_S_OK;
	case KVP_OP_DELETE:
		return vmb_kvp_store_delete(s, r.pool, r.key) < 0 ? HV_E_FAIL : HV_S_OK;
	case KVP_OP_ENUMERATE:
		return answer_enum(s, &r, body);
	default:
		return answer_ip(&r, body);
	}
}
