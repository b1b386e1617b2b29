#ifndef MSMTP_LOG_H
#define MSMTP_LOG_H
#endif
