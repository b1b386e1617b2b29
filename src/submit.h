#ifndef MSMTP_SUBMIT_H
#define MSMTP_SUBMIT_H
#endif
