/* libFuzzer target: SEND_BATCH_MESSAGE body iteration and the properties of each record. */
#include <stdint.h>

#include "protocol/batch.h"
#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct properties props;
    static struct tags_expr expr;
    char err[ERRMSG_SIZE];
    struct batch_iter it;
    struct batch_item item;
    batch_iter_init(&it, data, size, &limits_default);
    while (batch_iter_next(&it, &item, err) == 1) {
        if (properties_parse(item.properties.p, item.properties.len, &limits_default, &props,
                             err) == 0) {
            struct slice tag;
            if (properties_find(&props, MSG_PROP_TAGS, &tag))
                (void)tags_hash(tag.p, tag.len);
        }
    }
    /* The raw input as a subscription expression and a tag. */
    tags_parse((const char *)data, size, &expr, err);
    (void)tags_hash((const char *)data, size);
    return 0;
}
