/* systemd's Type=notify without libsystemd: one READY=1 datagram to
 * $NOTIFY_SOCKET once the mount answers. */
#ifndef VEOFS_SERVICE_NOTIFY_H
#define VEOFS_SERVICE_NOTIFY_H

/* 0 when sent or when there is no $NOTIFY_SOCKET; -errno on failure. */
int service_notify_ready(void);
/* Send any state string, e.g. "STOPPING=1". */
int service_notify(const char *state);

#endif
