/// The frames of feature `files` (PROTOCOL.md, *File transfer*): offers, chunks up and down,
/// and the list of files a user may fetch.
public enum FileTransfer {
    /// Raw bytes per chunk: 192 KiB, 256 KiB in base64, well under the 1 MiB frame limit.
    public static let chunkSize = 192 * 1024
    /// The smallest frame limit that carries a chunk with its JSON around it.
    public static let minimumFrameLength = 300_000
    /// Keys of the feature's frames.
    public enum Key {
        public static let offer = "FILE_OFFER"
        public static let upload = "FILE_UPLOAD"
        public static let chunk = "FILE_CHUNK"
        public static let get = "FILE_GET"
        public static let data = "FILE_DATA"
        public static let list = "FILES"
        public static let all: Set<String> = [offer, upload, chunk, get, data, list]
    }

    /// A mistake in a request, to send back as ERROR.
    public struct Problem: Error, Sendable, Equatable {
        public var text: String
        public init(_ text: String) { self.text = text }
    }

    /// `FILE_OFFER`: a client wants to upload a file for `to` ("ALL" or a user).
    public struct Offer: Sendable, Equatable {
        public var name: String
        public var size: Int64
        /// Lowercase hex SHA-256 of the whole file.
        public var sha256: String
        public var to: String

        public init(name: String, size: Int64, sha256: String, to: String) {
            self.name = name
            self.size = size
            self.sha256 = sha256
            self.to = to
        }

        public var jsonValue: JSONValue {
            .object(JSONObject([
                .init(key: "NAME", value: .string(name)), .init(key: "SIZE", value: .integer(size)),
                .init(key: "SHA256", value: .string(sha256)), .init(key: "TO", value: .string(to)),
            ]))
        }

        public static func parse(_ value: JSONValue) -> Result<Offer, Problem> {
            guard case .object(let object) = value else { return .failure(Problem("FILE_OFFER must be an object.")) }
            guard case .string(let name)? = object["NAME"], !name.isEmpty, name.utf8.count <= 255,
                  !name.contains("/"), !name.contains("\\"), name != ".", name != "..",
                  !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else { return .failure(Problem("FILE_OFFER.NAME must be a file name of 1 to 255 bytes, without / or control characters.")) }
            guard case .integer(let size)? = object["SIZE"], size >= 0 else {
                return .failure(Problem("FILE_OFFER.SIZE must be a non-negative integer."))
            }
            guard case .string(let sha)? = object["SHA256"], sha.utf8.count == 64, sha.utf8.allSatisfy(isLowerHex) else {
                return .failure(Problem("FILE_OFFER.SHA256 must be 64 lowercase hexadecimal digits."))
            }
            guard case .string(let to)? = object["TO"], !to.isEmpty else {
                return .failure(Problem("FILE_OFFER.TO must be \"ALL\" or a username."))
            }
            return .success(Offer(name: name, size: size, sha256: sha, to: to))
        }

        private static func isLowerHex(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }

    /// `FILE_UPLOAD` (server → client): where the upload of `id` stands; the next chunk starts
    /// at `offset`. `done` once the whole file is stored and checked.
    public struct UploadStatus: Sendable, Equatable {
        public var id: String
        public var offset: Int64
        public var done: Bool

        public init(id: String, offset: Int64, done: Bool) {
            self.id = id
            self.offset = offset
            self.done = done
        }

        public var jsonValue: JSONValue {
            .object(JSONObject([
                .init(key: "ID", value: .string(id)), .init(key: "OFFSET", value: .integer(offset)),
                .init(key: "DONE", value: .bool(done)),
            ]))
        }

        public init?(_ value: JSONValue) {
            guard case .object(let object) = value, case .string(let id)? = object["ID"],
                  case .integer(let offset)? = object["OFFSET"] else { return nil }
            self.init(id: id, offset: offset, done: object["DONE"] == .bool(true))
        }
    }

    /// `FILE_CHUNK` (client → server) and `FILE_DATA` (server → client): `bytes` of file `id`
    /// at `offset`.
    public struct Chunk: Sendable, Equatable {
        public var id: String
        public var offset: Int64
        public var bytes: [UInt8]

        public init(id: String, offset: Int64, bytes: [UInt8]) {
            self.id = id
            self.offset = offset
            self.bytes = bytes
        }

        public var jsonValue: JSONValue {
            .object(JSONObject([
                .init(key: "ID", value: .string(id)), .init(key: "OFFSET", value: .integer(offset)),
                .init(key: "DATA", value: .string(Base64.encode(bytes))),
            ]))
        }

        public static func parse(_ value: JSONValue, key: String = Key.chunk) -> Result<Chunk, Problem> {
            guard case .object(let object) = value, case .string(let id)? = object["ID"],
                  case .integer(let offset)? = object["OFFSET"], offset >= 0, case .string(let data)? = object["DATA"]
            else { return .failure(Problem("\(key) must be an object with ID, OFFSET and DATA.")) }
            guard let bytes = Base64.decode(data) else { return .failure(Problem("\(key).DATA must be base64.")) }
            guard bytes.count <= chunkSize else { return .failure(Problem("\(key).DATA holds more than \(chunkSize) bytes.")) }
            return .success(Chunk(id: id, offset: offset, bytes: bytes))
        }
    }

    /// `FILE_GET` (client → server): the chunk of file `id` from `offset`.
    public struct Get: Sendable, Equatable {
        public var id: String
        public var offset: Int64

        public init(id: String, offset: Int64) {
            self.id = id
            self.offset = offset
        }

        public var jsonValue: JSONValue {
            .object(JSONObject([.init(key: "ID", value: .string(id)), .init(key: "OFFSET", value: .integer(offset))]))
        }

        public static func parse(_ value: JSONValue) -> Result<Get, Problem> {
            guard case .object(let object) = value, case .string(let id)? = object["ID"] else {
                return .failure(Problem("FILE_GET must be an object with ID and OFFSET."))
            }
            guard case .integer(let offset)? = object["OFFSET"] ?? .integer(0), offset >= 0 else {
                return .failure(Problem("FILE_GET.OFFSET must be a non-negative integer."))
            }
            return .success(Get(id: id, offset: offset))
        }
    }

    /// A file a user may fetch, as listed in `FILES` and sent with each `FILE_DATA`.
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var name: String
        public var size: Int64
        public var sha256: String
        public var from: String
        public var to: String
        public var time: Int64

        public init(id: String, name: String, size: Int64, sha256: String, from: String, to: String, time: Int64) {
            self.id = id
            self.name = name
            self.size = size
            self.sha256 = sha256
            self.from = from
            self.to = to
            self.time = time
        }

        public var jsonValue: JSONValue {
            .object(JSONObject([
                .init(key: "ID", value: .string(id)), .init(key: "NAME", value: .string(name)),
                .init(key: "SIZE", value: .integer(size)), .init(key: "SHA256", value: .string(sha256)),
                .init(key: "FROM", value: .string(from)), .init(key: "TO", value: .string(to)),
                .init(key: "TIME", value: .integer(time)),
            ]))
        }

        public init?(_ value: JSONValue) {
            guard case .object(let object) = value, case .string(let id)? = object["ID"], case .string(let name)? = object["NAME"],
                  case .integer(let size)? = object["SIZE"], case .string(let sha)? = object["SHA256"],
                  case .string(let from)? = object["FROM"], case .string(let to)? = object["TO"],
                  case .integer(let time)? = object["TIME"] else { return nil }
            self.init(id: id, name: name, size: size, sha256: sha, from: from, to: to, time: time)
        }
    }
}
