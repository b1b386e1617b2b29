#ifndef MSMTP_REPLY_H
#define MSMTP_REPLY_H
#endif
