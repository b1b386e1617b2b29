#ifndef MSMTP_SMTP_H
#define MSMTP_SMTP_H
#endif
