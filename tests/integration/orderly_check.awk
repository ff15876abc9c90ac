# Per-key order checker for orderly consumption tests.
# Input: lines "consumer key seq queue:offset" in each consumer's delivery
# order (one consumer's lines may follow another's), and the acknowledged
# messages as lines "ACK key seq" anywhere.
# Definitions:
#   complete    every acknowledged (key, seq) was delivered at least once
#               (missing = 0);
#   in order    within one consumer's output a key's seqs increase strictly,
#               except that the consumer may step back to a seq it delivered
#               itself before (a queue restarted from its committed offset
#               repeats a suffix of its own run: a "rewind", counted); any
#               other step back is a violation;
#   duplicates  deliveries of a (key, seq) beyond its first, over all consumers;
#               of these, "redelivered" were the same queue offset again (the
#               consumer side: a restart from a committed offset), the rest a
#               message stored twice (a producer's retry after a lost answer).
# Output: "missing=N violations=N rewinds=N duplicates=N delivered=N acked=N unknown=N
# redelivered=N"; unknown counts delivered messages never acknowledged.
$1 == "ACK" { acked[$2 " " $3] = 1; nacked++; next }
{
    c = $1; k = $2; s = $3 + 0
    id = k " " s
    seen[id]++
    if (seen[id] > 1) dups++
    if ($4 != "" && pos[$4]++) redelivered++
    delivered++
    ck = c " " k
    if ((ck in last) && s <= last[ck]) {
        if ((c " " id) in mine) rewinds++
        else violations++
    }
    mine[c " " id] = 1
    last[ck] = s
}
END {
    for (id in acked) if (!(id in seen)) missing++
    for (id in seen) if (!(id in acked)) unknown++
    printf "missing=%d violations=%d rewinds=%d duplicates=%d delivered=%d acked=%d unknown=%d redelivered=%d\n",
        missing + 0, violations + 0, rewinds + 0, dups + 0, delivered + 0, nacked + 0, unknown + 0, redelivered + 0
}
