/* Tern's one error enum, shared by the client library and the servers. */
#ifndef TERN_ERROR_H
#define TERN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TERN_BUILDING_LIB) && defined(__GNUC__)
#define TERN_API __attribute__((visibility("default")))
#else
#define TERN_API
#endif

/* X(name, value, description). 0 is success. Negative values are local
 * conditions and never travel on the wire; positive values mirror RocketMQ
 * response codes a broker or name server answered with. */
#define TERN_ERRORS(X)                                                          \
    X(OK, 0, "success")                                                         \
    X(E_NOMEM, -1, "out of memory")                                             \
    X(E_MALFORMED, -2, "malformed input")                                       \
    X(E_CORRUPT, -3, "corrupt data on disk")                                    \
    X(E_IO, -4, "input/output error")                                           \
    X(E_NOSPACE, -5, "no space left on device")                                 \
    X(E_TOOBIG, -6, "size limit exceeded")                                      \
    X(E_NOTFOUND, -7, "not found")                                              \
    X(E_INVAL, -8, "invalid argument")                                          \
    X(E_CANCELED, -9, "canceled")                                               \
    X(E_TIMEOUT, -10, "timed out")                                              \
    X(E_BUSY, -11, "busy")                                                      \
    X(E_CLOSED, -12, "closed")                                                  \
    X(E_RANGE, -13, "offset out of range")                                      \
    X(E_AGAIN, -14, "no data yet")                                              \
    X(E_EXISTS, -15, "already exists")                                          \
    X(E_NOTLEADER, -16, "not the leader")                                       \
    X(E_CONNECT, -17, "connection failed")                                      \
    X(E_SYSTEM, 1, "broker system error")                                       \
    X(E_SYSTEM_BUSY, 2, "broker busy")                                          \
    X(E_NOT_SUPPORTED, 3, "request code not supported")                         \
    X(E_MESSAGE_ILLEGAL, 13, "message illegal")                                 \
    X(E_SERVICE_NOT_AVAILABLE, 14, "service not available")                     \
    X(E_NO_PERMISSION, 16, "no permission")                                     \
    X(E_TOPIC_NOT_EXIST, 17, "topic does not exist")                            \
    X(E_INVALID_PARAMETER, 29, "invalid parameter")

enum tern_err {
#define TERN_ERR_ENUM(name, value, desc) TERN_##name = value,
    TERN_ERRORS(TERN_ERR_ENUM)
#undef TERN_ERR_ENUM
};

/* Human-readable description of an error code; never NULL. */
TERN_API const char *tern_strerror(int err);

/* Symbolic name of an error code ("E_MALFORMED"); never NULL. */
TERN_API const char *tern_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
