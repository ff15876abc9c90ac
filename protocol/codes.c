/* Name lookups for the request, response and language code tables. */
#include "protocol/codes.h"

#include <string.h>

const char *codes_request_name(int code)
{
    switch (code) {
#define CODES_REQ_CASE(name, value)                                                                \
    case value:                                                                                    \
        return #name;
        CODES_REQUESTS(CODES_REQ_CASE)
#undef CODES_REQ_CASE
    default:
        return NULL;
    }
}

const char *codes_response_name(int code)
{
    switch (code) {
#define CODES_RESP_CASE(name, value)                                                               \
    case value:                                                                                    \
        return #name;
        CODES_RESPONSES(CODES_RESP_CASE)
#undef CODES_RESP_CASE
    default:
        return NULL;
    }
}

const char *codes_language_name(int lang)
{
    switch (lang) {
#define CODES_LANG_CASE(name, value)                                                               \
    case value:                                                                                    \
        return #name;
        CODES_LANGUAGES(CODES_LANG_CASE)
#undef CODES_LANG_CASE
    default:
        return NULL;
    }
}

int codes_language_from_name(const char *name, size_t n)
{
#define CODES_LANG_CMP(lname, value)                                                               \
    if (n == sizeof(#lname) - 1 && memcmp(name, #lname, n) == 0)                                   \
        return value;
    CODES_LANGUAGES(CODES_LANG_CMP)
#undef CODES_LANG_CMP
    return -1;
}

bool codes_is_tern(int code)
{
    return code >= CODES_TERN_FIRST && code <= CODES_TERN_LAST;
}
