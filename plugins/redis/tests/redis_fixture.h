#ifndef REDIS_TEST_FIXTURE_H
#define REDIS_TEST_FIXTURE_H
/* A real redis-server for plugin tests: ephemeral loopback port, started
   and stopped by PID by the test. */
#include <sys/types.h>
#include <hiredis/hiredis.h>

typedef struct redis_srv {
    pid_t pid;
    int port;
    char url[64];
} redis_srv;

/* Start on a free port (port 0) or on `port`; waits until PING answers.
   Returns 0 or -1. */
int redis_srv_start(redis_srv *s, int port);
/* SIGTERM then waitpid. */
void redis_srv_stop(redis_srv *s);
/* A blocking client for the test's own commands (never used by the plugin). */
redisContext *redis_srv_client(const redis_srv *s);
/* Run a command, return the reply (free with freeReplyObject). */
redisReply *redis_srv_cmd(redisContext *c, const char *fmt, ...);
#endif
