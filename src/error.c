/* Error code names and descriptions generated from the TERN_ERRORS table. */
#include "tern/error.h"

const char *tern_strerror(int err)
{
    switch (err) {
#define TERN_ERR_DESC(name, value, desc) \
    case value:                          \
        return desc;
        TERN_ERRORS(TERN_ERR_DESC)
#undef TERN_ERR_DESC
    }
    return "unknown error";
}

const char *tern_err_name(int err)
{
    switch (err) {
#define TERN_ERR_NAME(name, value, desc) \
    case value:                          \
        return #name;
        TERN_ERRORS(TERN_ERR_NAME)
#undef TERN_ERR_NAME
    }
    return "E_UNKNOWN";
}
