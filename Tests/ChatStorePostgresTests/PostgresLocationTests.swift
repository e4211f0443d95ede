@testable import ChatStorePostgres
import ChatTestSupport
import Testing

@Suite struct PostgresLocationTests {
    @Test func parsesTheFormsOperatorsWrite() throws {
        let full = try PostgresLocation(url: "postgres://chat:s3cr%40t@db.example.com:6543/chatterbox?sslmode=require")
        #expect(full.endpoint == .tcp(host: "db.example.com", port: 6543))
        #expect(full.username == "chat")
        #expect(full.password == "s3cr@t")
        #expect(full.database == "chatterbox")
        #expect(full.tls == .require)

        let minimal = try PostgresLocation(url: "postgresql://chat@localhost/chatterbox")
        #expect(minimal.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(minimal.password == nil)
        #expect(minimal.tls == .prefer)

        let ipv6 = try PostgresLocation(url: "postgres://chat:pw@[::1]:5433/db")
        #expect(ipv6.endpoint == .tcp(host: "::1", port: 5433))

        let socket = try PostgresLocation(url: "postgres://chat@%2Frun%2Fpostgresql/db")
        #expect(socket.endpoint == .unixSocket(directory: "/run/postgresql", port: 5432))
        let socketParameter = try PostgresLocation(url: "postgres://chat@/db?host=/tmp/pg")
        #expect(socketParameter.endpoint == .unixSocket(directory: "/tmp/pg", port: 5432))

        // A password may hold an unencoded "@": the user information ends at the last one.
        let at = try PostgresLocation(url: "postgres://chat:p@ss@host/db")
        #expect(at.password == "p@ss")
        #expect(at.endpoint == .tcp(host: "host", port: 5432))
    }

    @Test func neverShowsThePassword() throws {
        let location = try PostgresLocation(url: "postgres://chat:hunter2@db:5432/chatterbox")
        #expect(location.description == "postgres://chat:***@db:5432/chatterbox")
        #expect(!"\(location)".contains("hunter2"))
        #expect(String(reflecting: location) == location.description)
        var dumped = ""
        dump(location, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test(arguments: [
        ("mysql://u@h/db", "postgres://"),
        ("postgres://h/db", "no user"),
        ("postgres://u@h", "no database"),
        ("postgres://u@h:99999/db", "port"),
        ("postgres://u@h/db?sslmode=maybe", "sslmode"),
        ("postgres://u@h/db?application=x", "unknown URL parameter"),
        ("postgres://u:secret@/db", "no host"),
    ])
    func refusesWhatItCannotUseAndSaysWhy(url: String, reason: String) {
        do {
            _ = try PostgresLocation(url: url)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
            #expect(!error.description.contains("secret"))
        }
    }
}
