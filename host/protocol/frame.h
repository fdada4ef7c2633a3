// The host-worker wire format: length-prefixed, versioned frames over a stream socket.
//
//   offset 0  u16  magic 0x5348 ("SH")
//          2  u8   protocol version (k_protocol_version)
//          3  u8   message type
//          4  u32  body length (little-endian), at most the receiver's limit
//          8  ...  body: a sequence of fields written by BodyWriter
//
// A receiver that sees a wrong magic, version or type, a body over its limit, or a body that
// does not decode, treats the peer as broken (protocol_error). Nothing here blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sandhost::protocol {

constexpr std::uint16_t k_magic = 0x5348;
constexpr std::uint8_t k_protocol_version = 4;  // 2: jobs carry their id, attempt, queue and timeout; 3: leases, loading; 4: the attempt's folders
constexpr std::size_t k_header_size = 8;

enum class MessageType : std::uint8_t {
    hello = 1,        // worker -> host: first message, proves the exec worked
    job = 2,          // host -> worker: plugin, task, payload, limits
    ready = 3,        // worker -> host: plugin loaded, task found; the job clock starts (a worker's first job only)
    load_failed = 4,  // worker -> host: plugin or task unusable; the worker exits
    log = 5,          // worker -> host
    progress = 6,     // worker -> host
    heartbeat = 7,    // worker -> host
    done = 8,         // worker -> host: the task returned (result or error)
    cancel = 9,       // host -> worker: stop soon
    description = 10, // worker -> host: the plugin's descriptor (describe jobs)
    shutdown = 11,    // host -> worker (reuse): exit after the current job
    fork_job = 12,    // host -> fork server: fork a child for a job (descriptors attached)
    forked = 13,      // fork server -> host: the child's pid
    lease = 14,       // host -> worker: the job's lease was renewed; the worker may go on this long (Lease)
    loading = 15,     // worker -> host: the plugin's library is being loaded and initialised
    loaded = 16,      // worker -> host: the library is loaded and initialised (or refused, as load_failed says)
    child_lease = 17, // host -> fork server: a child's lease was renewed; it may go on this long (ChildLease)
    enter_group = 18, // host -> spawned or reused worker, before its first job: enter the attempt's control group (EnterGroup, descriptors attached)
};
constexpr std::uint8_t k_last_message_type = static_cast<std::uint8_t>(MessageType::enter_group);

const char* to_string(MessageType type);

struct Frame {
    MessageType type{};
    std::string body;
};

// Header plus body, ready to write.
std::string encode_frame(MessageType type, std::string_view body);

// Reassembles frames from a byte stream. Feed it whatever arrived; take frames with next().
class FrameDecoder {
public:
    explicit FrameDecoder(std::size_t max_body) : m_max_body(max_body) {}

    enum class Status { frame, need_more, broken };
    struct Next {
        Status status = Status::need_more;
        Frame frame;               // when status == frame
        std::string error;         // when broken: what was wrong, for the outcome's message
        std::optional<MessageType> oversized_type;  // when broken by a body over the limit
        std::uint64_t oversized_length = 0;
    };

    void feed(const char* data, std::size_t size) { m_buffer.append(data, size); }
    Next next();
    void set_max_body(std::size_t max_body) { m_max_body = max_body; }
    std::size_t buffered() const { return m_buffer.size() - m_offset; }

private:
    std::string m_buffer;
    std::size_t m_offset = 0;
    std::size_t m_max_body;
};

// Fields of a body, in order. Integers are little-endian; strings carry a u32 length.
class BodyWriter {
public:
    // Room for the usual message (a job's is about 200 bytes) without growing on the way.
    BodyWriter() { m_out.reserve(256); }
    BodyWriter& u8(std::uint8_t v);
    BodyWriter& u32(std::uint32_t v);
    BodyWriter& u64(std::uint64_t v);
    BodyWriter& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
    BodyWriter& f64(double v);
    BodyWriter& str(std::string_view v);
    std::string take() { return std::move(m_out); }
    const std::string& bytes() const { return m_out; }

private:
    std::string m_out;
};

// Reads fields back; every getter fails (returns false) instead of reading past the end.
class BodyReader {
public:
    explicit BodyReader(std::string_view body) : m_in(body) {}
    bool u8(std::uint8_t& v);
    bool u32(std::uint32_t& v);
    bool u64(std::uint64_t& v);
    bool i64(std::int64_t& v);
    bool f64(double& v);
    bool str(std::string& v);
    bool at_end() const { return m_in.empty(); }

private:
    bool take(void* out, std::size_t size);
    std::string_view m_in;
};

} // namespace sandhost::protocol
