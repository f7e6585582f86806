/*
 * dp_net_counters — the counter set of the userspace TCP/IP stack
 * (dp_net_counters), one name per drop reason and per notable event.
 * Counters are per thread (mx_counter.h), so each dataplane core counts
 * into its own copy with a plain add.
 */
#ifndef DP_NET_COUNTERS_H
#define DP_NET_COUNTERS_H

#include "mx_counter.h"

#define DP_NET_COUNTERS(X)                                                     \
	X(net_rx_frames, "frames received")                                    \
	X(net_rx_short, "frames too short for their headers (dropped)")        \
	X(net_rx_ethertype, "frames of an unhandled ethertype (dropped)")      \
	X(net_rx_not_us, "frames for another MAC (dropped)")                   \
	X(net_tx_frames, "frames sent")                                        \
	X(net_tx_nobuf, "frames not sent: no TX buffer")                       \
	X(net_tx_arp_miss, "packets not sent: next hop unresolved")            \
	X(net_arp_rx, "ARP packets received")                                  \
	X(net_arp_bad, "malformed ARP packets (dropped)")                      \
	X(net_arp_not_us, "ARP for another address (ignored)")                 \
	X(net_arp_reply_tx, "ARP replies sent")                                \
	X(net_arp_request_tx, "ARP requests sent")                             \
	X(net_arp_learned, "ARP entries learned or refreshed")                 \
	X(net_arp_table_full, "ARP entries evicted for space")                 \
	X(net_ip_rx, "IPv4 packets received")                                  \
	X(net_ip_bad_header, "IPv4 header invalid (dropped)")                  \
	X(net_ip_bad_csum, "IPv4 header checksum wrong (dropped)")             \
	X(net_ip_not_us, "IPv4 for another address (dropped)")                 \
	X(net_ip_frag, "IPv4 fragments (dropped: no reassembly)")              \
	X(net_ip_proto, "IPv4 of an unhandled protocol (dropped)")             \
	X(net_ip_ttl_zero, "IPv4 with TTL 0 (dropped)")                        \
	X(net_icmp_rx, "ICMP messages received")                               \
	X(net_icmp_bad, "ICMP malformed or bad checksum (dropped)")            \
	X(net_icmp_ignored, "ICMP types other than echo (ignored)")            \
	X(net_icmp_echo_tx, "ICMP echo replies sent")                          \
	X(net_tcp_rx, "TCP segments received")                                 \
	X(net_tcp_bad_header, "TCP header invalid (dropped)")                  \
	X(net_tcp_bad_csum, "TCP checksum wrong (dropped)")                    \
	X(net_tcp_bad_port, "TCP to a closed port (RST sent)")                 \
	X(net_tcp_syn_rx, "SYNs received")                                     \
	X(net_tcp_synack_tx, "SYN-ACKs (cookies) sent")                        \
	X(net_tcp_synack_retx, "SYN-ACKs sent again (handshake ACK lost?)")    \
	X(net_tcp_synack_retx_capped,                                          \
	  "SYN-ACK resends held back: per-core rate cap")                      \
	X(net_tcp_synack_retx_capped_dst,                                      \
	  "SYN-ACK resends held back: per-destination cap")                    \
	X(net_tcp_synq_evicted,                                                \
	  "SYN-ACK resend entries evicted by younger SYNs (cache full)")       \
	X(net_tcp_synq_expired, "SYN-ACK resend entries out of tries")         \
	X(net_tcp_synq_recovered,                                              \
	  "handshakes completed after a SYN-ACK resend")                       \
	X(net_tcp_cookie_bad, "handshake ACKs with a bad cookie (RST sent)")   \
	X(net_tcp_no_conn, "segments for no connection (RST sent)")            \
	X(net_tcp_pool_empty, "handshakes refused: connection pool empty")     \
	X(net_tcp_app_refused, "handshakes refused by the app")                \
	X(net_tcp_accepted, "connections established")                         \
	X(net_tcp_closed, "connections closed in order")                       \
	X(net_tcp_reset_rx, "connections reset by the peer")                   \
	X(net_tcp_reset_tx, "RSTs sent")                                       \
	X(net_tcp_timeout, "connections dropped: retransmissions exhausted")   \
	X(net_tcp_idle, "connections dropped: idle or keepalive timeout")      \
	X(net_tcp_paws, "segments failing PAWS (dropped)")                     \
	X(net_tcp_out_of_window,                                               \
	  "segments outside the window (ACKed, dropped)")                      \
	X(net_tcp_dup_data, "bytes received twice (dropped)")                  \
	X(net_tcp_ooo_segs, "segments queued out of order")                    \
	X(net_tcp_ooo_drop, "out-of-order segments beyond the hole limit")     \
	X(net_tcp_window_full, "bytes beyond the receive window (dropped)")    \
	X(net_tcp_challenge_ack, "RFC 5961 challenge ACKs sent")               \
	X(net_tcp_challenge_limited, "challenge ACKs suppressed by the limit") \
	X(net_tcp_ack_unsent, "ACKs for data not sent (ACKed, dropped)")       \
	X(net_tcp_ack_old, "ACKs too old (RFC 5961 §5, dropped)")              \
	X(net_tcp_rto, "retransmission timeouts")                              \
	X(net_tcp_fast_retx, "fast retransmits")                               \
	X(net_tcp_retx_segs, "segments retransmitted")                         \
	X(net_tcp_persist_probe, "zero-window probes sent")                    \
	X(net_tcp_keepalive_tx, "keepalive probes sent")                       \
	X(net_tcp_tw_rx, "segments hitting TIME_WAIT")                         \
	X(net_tcp_tw_evicted, "TIME_WAIT entries evicted for space")           \
	X(net_tcp_tw_reused, "TIME_WAIT tuples reused by a new SYN")           \
	X(net_tcp_rx_after_close, "data after the app closed (RST sent)")

enum dp_net_counter { DP_NET_COUNTERS(MX_COUNTER_ENUM) DP_NET_C__COUNT };
MX_COUNTER_SET_DECLARE(dp_net_counters);

#define DP_NET_COUNT(name) MX_COUNT(dp_net_counters, name)
#define DP_NET_COUNT_ADD(name, n) MX_COUNT_ADD(dp_net_counters, name, n)

#endif
