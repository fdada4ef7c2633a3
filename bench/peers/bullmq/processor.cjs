// The bench's trivial task as a BullMQ sandboxed processor: the payload is a number, the result
// that number plus one (what bench/trivial_plugin.c does for sandhost).
module.exports = async (job) => job.data.n + 1;
