internal import CNIOBoringSSL

/// A BoringSSL `BIO` that reads and writes through a ``TLSServerHandler`` without a buffer
/// of its own: ciphertext is copied once from the channel's buffer in, and once into the
/// buffer that is written out.
enum RecordBIO {
    /// Makes a BIO that calls `handler`, which must outlive it or ``detach(_:)`` it first (it
    /// is not retained: the handler owns the `SSL` that owns the BIO).
    static func make(for handler: TLSServerHandler) -> OpaquePointer? {
        guard let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(handler).toOpaque())
        BIO_set_init(bio, 1)
        return bio
    }

    /// Cuts the BIO loose from its handler: later calls fail instead of reaching freed memory.
    static func detach(_ bio: OpaquePointer) {
        BIO_set_data(bio, nil)
    }

    fileprivate static func handler(of bio: OpaquePointer?) -> TLSServerHandler? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<TLSServerHandler>.fromOpaque(data).takeUnretainedValue()
    }

    private nonisolated(unsafe) static let method: OpaquePointer = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "Chatterbox record BIO") else {
            fatalError("BoringSSL could not allocate a BIO_METHOD")
        }
        BIO_meth_set_read(method, readCallback)
        BIO_meth_set_write(method, writeCallback)
        BIO_meth_set_ctrl(method, controlCallback)
        return method
    }()
}

private func readCallback(bio: OpaquePointer?, buffer: UnsafeMutablePointer<CChar>?, length: CInt) -> CInt {
    BIO_clear_retry_flags(bio)
    guard let buffer, length > 0, let handler = RecordBIO.handler(of: bio) else { return -1 }
    let copied = handler.readCiphertext(into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(length)))
    guard copied > 0 else {
        BIO_set_retry_read(bio)
        return -1
    }
    return CInt(copied)
}

private func writeCallback(bio: OpaquePointer?, buffer: UnsafePointer<CChar>?, length: CInt) -> CInt {
    BIO_clear_retry_flags(bio)
    guard let buffer, length > 0 else { return 0 }
    guard let handler = RecordBIO.handler(of: bio) else { return -1 }
    handler.writeCiphertext(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
    return length
}

private func controlCallback(bio: OpaquePointer?, command: CInt, argument: CLong, pointer: UnsafeMutableRawPointer?) -> CLong {
    // Writes are handed over as they happen, so there is never anything to flush.
    command == BIO_CTRL_FLUSH ? 1 : 0
}
