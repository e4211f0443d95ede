import ChatTestSupport
import Foundation
import Testing

/// `chatterbox server --config FILE`, `CHATTERBOX_*` and flags: one precedence, bad
/// configurations refused at start with the key and the reason (through the real executable).
@Suite struct ConfigurationSourcesTests {
    /// Runs `chatterbox server ARGUMENTS` with `environment` added to this process's
    /// (without its own CHATTERBOX_ settings).
    private func server(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHATTERBOX_") || $0.key.hasPrefix("CHATTERBOX_TEST") }
        base.merge(environment) { _, new in new }
        return try await ChildProcess.runToExit(ServerProcess.executable.path, ["server"] + arguments, environment: base)
    }

    private func file(_ text: String, in directory: borrowing TemporaryDirectory) throws -> String {
        let path = directory.path + "/chatterbox.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The `name: value` lines of a printed configuration.
    private func settings(_ output: String) -> [String: String] {
        var settings: [String: String] = [:]
        for line in output.split(separator: "\n") where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            settings[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return settings
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() async throws {
        let directory = TemporaryDirectory()
        let path = try file("""
            # Settings are named as their flags.
            history-limit: 10
            message-rate: 5
            http-port: 9443
            server-name: "From the file"
            no-files: true
            connection-limit-exempt: [10.0.0.0/8, 192.168.1.1]
            frame-timeout: 2m
            """, in: directory)
        let (status, output) = try await server(
            ["--config", path, "--history-limit", "30", "--print-config"],
            environment: ["CHATTERBOX_HISTORY_LIMIT": "20", "CHATTERBOX_MESSAGE_RATE": "7"])
        #expect(status == 0, "\(output)")
        let effective = settings(output)
        #expect(effective["history-limit"] == "30")  // flag
        #expect(effective["message-rate"] == "7.0")  // environment over file
        #expect(effective["http-port"] == "9443")  // file
        #expect(effective["server-name"] == "\"From the file\"")
        #expect(effective["no-files"] == "true")
        #expect(effective["connection-limit-exempt"] == "[\"10.0.0.0/8\", \"192.168.1.1\"]")
        #expect(effective["frame-timeout"] == "\"2m\"")
        #expect(effective["max-connections"] == "50000")  // default
        #expect(output.contains("# node: (not set)"))
    }

    @Test func configurationFileFromTheEnvironmentAndHostFromTheFile() async throws {
        let directory = TemporaryDirectory()
        let path = try file("host: 127.0.0.1\nport: 9100\n", in: directory)
        let (status, output) = try await server(["--print-config"], environment: ["CHATTERBOX_CONFIG": path])
        #expect(status == 0, "\(output)")
        #expect(settings(output)["host"] == "\"127.0.0.1\"")
        #expect(settings(output)["port"] == "9100")
        // A host on the command line wins.
        let (_, overridden) = try await server(["::1", "--print-config"], environment: ["CHATTERBOX_CONFIG": path])
        #expect(settings(overridden)["host"] == "\"::1\"")
    }

    @Test func unknownKeyIsRefusedWithItsName() async throws {
        let directory = TemporaryDirectory()
        let path = try file("http-prot: 9443\n", in: directory)
        let (status, output) = try await server(["--config", path, "--print-config"])
        #expect(status != 0)
        #expect(output.contains("unknown setting \"http-prot\""), "\(output)")
        #expect(output.contains("did you mean http-port"), "\(output)")
    }

    @Test func badValueIsRefusedWithWhereItCameFrom() async throws {
        let directory = TemporaryDirectory()
        let path = try file("http-port: many\n", in: directory)
        let (status, output) = try await server(["--config", path, "--print-config"])
        #expect(status != 0)
        #expect(output.contains("\(path): http-port"), "\(output)")
        #expect(output.contains("many"), "\(output)")

        let (envStatus, envOutput) = try await server(["--print-config"], environment: ["CHATTERBOX_NO_FILES": "perhaps"])
        #expect(envStatus != 0)
        #expect(envOutput.contains("CHATTERBOX_NO_FILES: expected true or false"), "\(envOutput)")

        let flagPath = try file("no-files: sometimes\n", in: directory)
        let (flagStatus, flagOutput) = try await server(["--config", flagPath, "--print-config"])
        #expect(flagStatus != 0)
        #expect(flagOutput.contains("no-files must be true or false"), "\(flagOutput)")
    }

    @Test func notYAMLIsRefused() async throws {
        let directory = TemporaryDirectory()
        let path = try file("http-port: [unclosed\n", in: directory)
        let (status, output) = try await server(["--config", path, "--print-config"])
        #expect(status != 0)
        #expect(output.contains("is not valid YAML"), "\(output)")
    }

    @Test func printedConfigurationMasksTheDatabasePassword() async throws {
        let (status, output) = try await server(["--store", "postgres://chat:s3cret@db.example.com/chatterbox", "--print-config"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("postgres://chat:***@db.example.com/chatterbox"))
        #expect(!output.contains("s3cret"))
    }

    @Test func printedConfigurationIsAValidConfigurationFile() async throws {
        let directory = TemporaryDirectory()
        let (_, printed) = try await server(["--http-port", "9443", "--print-config"])
        let path = try file(printed, in: directory)
        let (status, output) = try await server(["--config", path, "--print-config"])
        #expect(status == 0, "\(output)")
        #expect(settings(output) == settings(printed))
    }
}
