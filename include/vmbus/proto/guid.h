/* GUIDs as they travel on the wire: Microsoft mixed-endian layout. */
#ifndef VMBUS_PROTO_GUID_H
#define VMBUS_PROTO_GUID_H

#include <stdint.h>

/*
 * "aabbccdd-eeff-gghh-iijj-kkllmmnnoopp" is stored as Data1 (u32 LE),
 * Data2 (u16 LE), Data3 (u16 LE) and then the last 8 bytes in order.
 * Keeping it as a byte array avoids any dependence on host endianness.
 */
struct vmb_guid {
	uint8_t b[16];
};
_Static_assert(sizeof(struct vmb_guid) == 16, "guid size");

#define VMB_GUID_INIT(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7)          \
	{                                                                  \
		{                                                          \
			(d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff,  \
			    ((d1) >> 24) & 0xff, (d2) & 0xff,              \
			    ((d2) >> 8) & 0xff, (d3) & 0xff,               \
			    ((d3) >> 8) & 0xff, b0, b1, b2, b3, b4, b5,    \
			    b6, b7                                         \
		}                                                          \
	}

/* Interface (class) GUIDs, PROTOCOL.md section 4.2. */
#define VMB_GUID_SCSI                                                      \
	VMB_GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2,  \
		      0xff, 0xb1, 0xdc, 0x7f)
#define VMB_GUID_IDE                                                       \
	VMB_GUID_INIT(0x32412632, 0x86cb, 0x44a2, 0x9b, 0x5c, 0x50, 0xd1,  \
		      0x41, 0x73, 0x54, 0xf5)
#define VMB_GUID_NET                                                       \
	VMB_GUID_INIT(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, 0xf2, 0xd2,  \
		      0xf9, 0x65, 0xed, 0x0e)
#define VMB_GUID_PCI                                                       \
	VMB_GUID_INIT(0x44c4f61d, 0x4444, 0x4400, 0x9d, 0x52, 0x80, 0x2e,  \
		      0x27, 0xed, 0xe1, 0x9f)
#define VMB_GUID_SYNTHVID                                                  \
	VMB_GUID_INIT(0xda0a7802, 0xe377, 0x4aac, 0x8e, 0x77, 0x05, 0x58,  \
		      0xeb, 0x10, 0x73, 0xf8)
#define VMB_GUID_KBD                                                       \
	VMB_GUID_INIT(0xf912ad6d, 0x2b17, 0x48ea, 0xbd, 0x65, 0xf9, 0x27,  \
		      0xa6, 0x1c, 0x76, 0x84)
#define VMB_GUID_MOUSE                                                     \
	VMB_GUID_INIT(0xcfa8b69e, 0x5b4a, 0x4cc0, 0xb9, 0x8b, 0x8b, 0xa1,  \
		      0xa1, 0xf3, 0xf9, 0x5a)
#define VMB_GUID_KVP                                                       \
	VMB_GUID_INIT(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84,  \
		      0x1e, 0x8c, 0x03, 0xe6)
#define VMB_GUID_TIMESYNC                                                  \
	VMB_GUID_INIT(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a,  \
		      0xb0, 0x17, 0x5c, 0xaf)
#define VMB_GUID_HEARTBEAT                                                 \
	VMB_GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f,  \
		      0x3b, 0xd5, 0x42, 0x2d)
#define VMB_GUID_SHUTDOWN                                                  \
	VMB_GUID_INIT(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9,  \
		      0x0c, 0xed, 0x39, 0xdb)
#define VMB_GUID_FCOPY                                                     \
	VMB_GUID_INIT(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17,  \
		      0x49, 0x77, 0xc1, 0x92)
#define VMB_GUID_VSS                                                       \
	VMB_GUID_INIT(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e,  \
		      0xba, 0xcb, 0xa4, 0x40)
#define VMB_GUID_BALLOON                                                   \
	VMB_GUID_INIT(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07,  \
		      0xdc, 0x18, 0xa5, 0x02)

/*
 * Our own test device ("vmbus echo"): not a Hyper-V class. Randomly chosen
 * so it can never collide with a real device.
 */
#define VMB_GUID_TEST                                                      \
	VMB_GUID_INIT(0x6c3a1f2e, 0x93b4, 0x4d7a, 0xa0, 0x5e, 0x1b, 0x8f,  \
		      0x2c, 0x47, 0xd9, 0x10)

#endif
