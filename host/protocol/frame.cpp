#include "protocol/frame.h"

#include <cstring>

namespace sandhost::protocol {
namespace {

template <typename T>
void put_le(std::string& out, T value)
{
    char bytes[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    out.append(bytes, sizeof bytes);
}

template <typename T>
T get_le(const char* in)
{
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<unsigned char>(in[i])) << (8 * i);
    return value;
}

} // namespace

const char* to_string(MessageType type)
{
    switch (type) {
    case MessageType::hello: return "hello";
    case MessageType::job: return "job";
    case MessageType::ready: return "ready";
    case MessageType::load_failed: return "load_failed";
    case MessageType::log: return "log";
    case MessageType::progress: return "progress";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::done: return "done";
    case MessageType::cancel: return "cancel";
    case MessageType::description: return "description";
    case MessageType::shutdown: return "shutdown";
    case MessageType::fork_job: return "fork_job";
    case MessageType::forked: return "forked";
    case MessageType::lease: return "lease";
    case MessageType::loading: return "loading";
    case MessageType::loaded: return "loaded";
    case MessageType::child_lease: return "child_lease";
    case MessageType::enter_group: return "enter_group";
    }
    return "unknown";
}

std::string encode_frame(MessageType type, std::string_view body)
{
    std::string out;
    out.reserve(k_header_size + body.size());
    put_le<std::uint16_t>(out, k_magic);
    out.push_back(static_cast<char>(k_protocol_version));
    out.push_back(static_cast<char>(type));
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(body.size()));
    out.append(body);
    return out;
}

FrameDecoder::Next FrameDecoder::next()
{
    Next result;
    if (buffered() < k_header_size) return result;
    const char* header = m_buffer.data() + m_offset;
    const auto magic = get_le<std::uint16_t>(header);
    const auto version = static_cast<std::uint8_t>(header[2]);
    const auto type = static_cast<std::uint8_t>(header[3]);
    const auto length = get_le<std::uint32_t>(header + 4);
    if (magic != k_magic) {
        result.status = Status::broken;
        result.error = "bad frame magic (garbage on the channel)";
        return result;
    }
    if (version != k_protocol_version) {
        result.status = Status::broken;
        result.error = "unsupported protocol version " + std::to_string(version);
        return result;
    }
    if (type == 0 || type > k_last_message_type) {
        result.status = Status::broken;
        result.error = "unknown message type " + std::to_string(type);
        return result;
    }
    if (length > m_max_body) {
        result.status = Status::broken;
        result.error = std::string("a '") + to_string(static_cast<MessageType>(type)) + "' message claims " + std::to_string(length) +
                       " bytes, more than the peer may send (" + std::to_string(m_max_body) + ")";
        result.oversized_type = static_cast<MessageType>(type);
        result.oversized_length = length;
        return result;
    }
    if (buffered() < k_header_size + length) return result;
    result.status = Status::frame;
    result.frame.type = static_cast<MessageType>(type);
    result.frame.body.assign(header + k_header_size, length);
    m_offset += k_header_size + length;
    // Compact once the consumed prefix dominates, so a long stream does not grow the buffer.
    if (m_offset > 65536 && m_offset * 2 > m_buffer.size()) {
        m_buffer.erase(0, m_offset);
        m_offset = 0;
    }
    return result;
}

BodyWriter& BodyWriter::u8(std::uint8_t v)
{
    m_out.push_back(static_cast<char>(v));
    return *this;
}
BodyWriter& BodyWriter::u32(std::uint32_t v)
{
    put_le(m_out, v);
    return *this;
}
BodyWriter& BodyWriter::u64(std::uint64_t v)
{
    put_le(m_out, v);
    return *this;
}
BodyWriter& BodyWriter::f64(double v)
{
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return u64(bits);
}
BodyWriter& BodyWriter::str(std::string_view v)
{
    u32(static_cast<std::uint32_t>(v.size()));
    m_out.append(v);
    return *this;
}

bool BodyReader::take(void* out, std::size_t size)
{
    if (m_in.size() < size) return false;
    std::memcpy(out, m_in.data(), size);
    m_in.remove_prefix(size);
    return true;
}
bool BodyReader::u8(std::uint8_t& v) { return take(&v, 1); }
bool BodyReader::u32(std::uint32_t& v)
{
    char raw[4];
    if (!take(raw, 4)) return false;
    v = get_le<std::uint32_t>(raw);
    return true;
}
bool BodyReader::u64(std::uint64_t& v)
{
    char raw[8];
    if (!take(raw, 8)) return false;
    v = get_le<std::uint64_t>(raw);
    return true;
}
bool BodyReader::i64(std::int64_t& v)
{
    std::uint64_t raw;
    if (!u64(raw)) return false;
    v = static_cast<std::int64_t>(raw);
    return true;
}
bool BodyReader::f64(double& v)
{
    std::uint64_t bits;
    if (!u64(bits)) return false;
    std::memcpy(&v, &bits, sizeof v);
    return true;
}
bool BodyReader::str(std::string& v)
{
    std::uint32_t size;
    if (!u32(size) || m_in.size() < size) return false;
    v.assign(m_in.data(), size);
    m_in.remove_prefix(size);
    return true;
}

} // namespace sandhost::protocol
