/*
 * The control protocol between sluice-control and sluiced, version 1.
 *
 * sluiced listens on a Unix SOCK_SEQPACKET socket (config key
 * control_socket, default <data_dir>/run/sluiced.ctl); sluice-control
 * connects to it, and reconnects whenever the connection drops (either
 * process restarting).  One message per packet.  Every message is a native
 * frame (proto/native.h: the same 16-byte header, magic "SL", version 1)
 * with an opcode from the range below; a reply has bit 7 set, carries the
 * request's correlation id and an error code (native error numbers).
 *
 *   opcode  direction           body (offsets from the frame start)
 *   0x41    control -> sluiced  HELLO: 16 u32 ipc version (1), 20 u32 pid
 *           reply 0xC1          16 u32 ipc version, 20 u32 pid,
 *                               24 u16 udp port, 26 u16 tcp port
 *   0x42    control -> sluiced  TOPIC_PUT: 16 one topic entry exactly as in
 *                               a METADATA response (40 bytes + name,
 *                               sn_metadata_resp_add layout).  Creates the
 *                               topic's partition logs if missing, or updates
 *                               retention/durability.  Idempotent.
 *           reply 0xC2          header only; error != 0 if the logs could
 *                               not be opened (e.g. KAFKA_STORAGE_ERROR)
 *   0x43    control -> sluiced  TOPIC_DELETE: 16 u32 topic id, 20 u16 name
 *                               length, 22 u16 0, 24 name.  Closes the logs
 *                               and deletes the topic's data.
 *           reply 0xC3          header only
 *   0x44    control -> sluiced  SYNC_DONE: header only.  After HELLO,
 *                               control sends TOPIC_PUT for every topic,
 *                               then SYNC_DONE; sluiced serves admin
 *                               requests only after it.
 *   0x45    sluiced -> control  ADMIN: 16 a whole native CREATE_TOPIC or
 *                               DELETE_TOPIC request frame from a client.
 *           reply 0xC5          16 the whole native response frame to send
 *                               back to the client.  Control persists the
 *                               change and pushes TOPIC_PUT / TOPIC_DELETE
 *                               before it replies.
 *   0x46    sluiced -> control  KAFKA: 16 a whole Kafka request (header and
 *                               body, without the 4-byte size prefix) of a
 *                               group, offset or admin API (JoinGroup,
 *                               SyncGroup, Heartbeat, LeaveGroup,
 *                               OffsetCommit, OffsetFetch, DescribeGroups,
 *                               ListGroups, CreateTopics, DeleteTopics,
 *                               DescribeConfigs).
 *           reply 0xC6          16 the whole Kafka response (without the
 *                               size prefix), sent when it is ready: a
 *                               JoinGroup is answered when its rebalance
 *                               completes, so replies come in any order
 *                               (matched by correlation id).  error != 0
 *                               and no body: close the client's
 *                               connection.
 *
 * While no control connection is up, sluiced keeps serving the topics it
 * has (it caches the last topic set in <data_dir>/run/topics.cache) and
 * answers admin requests with UNKNOWN_SERVER_ERROR.
 */
#ifndef SLUICE_PROTO_IPC_H
#define SLUICE_PROTO_IPC_H

#define SIPC_VERSION 1
#define SIPC_MAX_MESSAGE 65536

enum sipc_opcode {
	SIPC_HELLO = 0x41,
	SIPC_TOPIC_PUT = 0x42,
	SIPC_TOPIC_DELETE = 0x43,
	SIPC_SYNC_DONE = 0x44,
	SIPC_ADMIN = 0x45,
	SIPC_KAFKA = 0x46,
};

#define SIPC_HELLO_BYTES 24
#define SIPC_HELLO_REPLY_BYTES 28
#define SIPC_TOPIC_DELETE_BYTES 24 /* + name */

#endif
