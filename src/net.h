#ifndef MSMTP_NET_H
#define MSMTP_NET_H
#endif
