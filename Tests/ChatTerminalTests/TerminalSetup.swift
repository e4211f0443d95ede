import ChatClient
import ChatTestSupport
import Foundation

/// A running server (the real `chatterbox` executable) and the command line of full-screen
/// clients for it, for the tests that drive clients in tmux.
struct TerminalSetup {
    let directory: String
    let server: ServerProcess

    var caPath: String { directory + "/ca.crt" }

    func clientCommand(_ name: String?, extra: [String] = []) -> [String] {
        [ServerProcess.executable.path, "client", "127.0.0.1", "-p", String(server.port), "-ca", caPath, "--max-reconnect-delay", "1"]
            + (name.map { ["-u", $0] } ?? []) + extra
    }

    /// A raw protocol client (for the other side of a conversation, or an attacker).
    func rawClient(_ name: String) async throws -> TestClient {
        let client = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .tls(.certificateAuthorityFile(caPath)))
        guard try await client.login(name).usernameAccepted == true else { throw TestFailure("\(name) refused") }
        return client
    }

    /// Starts a client logged in as `name` in a `width` × `height` terminal and waits until
    /// it is connected.
    func startClient(_ name: String, in tmux: Tmux, width: Int = 100, height: Int = 30, extra: [String] = [], environment: [String] = []) async throws {
        let command = environment.isEmpty ? clientCommand(name, extra: extra) : ["env"] + environment + clientCommand(name, extra: extra)
        try tmux.startSession(name, width: width, height: height, command: command)
        try await tmux.waitForScreen(name, "\(name) logged in") { $0.contains("[\(name)") && $0.contains("connected") }
    }

    /// Runs `body` with a fresh server and tmux; both are killed afterwards.
    static func withServer<Result>(arguments: [String] = [], _ body: (TerminalSetup, Tmux) async throws -> Result) async throws -> Result {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: arguments)
        // SIGKILL: a graceful SIGTERM was seen to go unnoticed by the server now and then.
        defer { server.kill() }
        return try await Tmux.with { tmux in
            try await body(TerminalSetup(directory: directory.path, server: server), tmux)
        }
    }

    /// The screen row that contains `text`.
    static func row(containing text: String, in screen: String) -> String? {
        screen.components(separatedBy: "\n").first { $0.contains(text) }
    }
}
