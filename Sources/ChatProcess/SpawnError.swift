/// A program could not be started.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    /// What could not be started, and why.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
