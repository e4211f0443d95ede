/// Runs `body`, then `teardown`, also when `body` throws: the shape of every `with…` helper
/// that starts something (a server, a database, tmux) and must stop it whatever the test did,
/// which a `defer` cannot do when stopping is `async`.
///
/// After `body` succeeded, an error of `teardown` is thrown; after `body` threw, its error is
/// the one thrown, and `teardown`'s is dropped.
public func withTeardown<Result>(
    _ body: () async throws -> Result,
    teardown: () async throws -> Void
) async throws -> Result {
    let result: Result
    do {
        result = try await body()
    } catch {
        try? await teardown()
        throw error
    }
    try await teardown()
    return result
}
