import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct ConcurrencyTests {
    @Test func twoHundredConcurrentClientsEachSeeEveryBroadcast() async throws {
        try await TestServer.with { server in
            let count = 200
            let clients = try await withThrowingTaskGroup(of: (Int, TestClient).self) { group in
                for index in 0..<count {
                    group.addTask { (index, try await server.login("user\(index)")) }
                }
                var clients: [(Int, TestClient)] = []
                for try await client in group { clients.append(client) }
                return clients.sorted { $0.0 < $1.0 }.map(\.1)
            }
            #expect(clients.count == count)
            // Everyone sends one broadcast at once; everyone must receive all of them, in one
            // order shared by every client.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask { try await client.say("hello from \(index)", as: "user\(index)", at: Int64(index)) }
                }
                try await group.waitForAll()
            }
            let orders = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for client in clients {
                    group.addTask {
                        var seen: [Int64] = []
                        while seen.count < count {
                            let frame = try await client.next(timeout: .seconds(60)) { $0.messages != nil || $0.error != nil }.frame
                            if let error = frame.error { throw TestFailure("unexpected error: \(error)") }
                            seen += frame.messages!.map(\.timestamp)
                        }
                        return seen
                    }
                }
                var orders: [[Int64]] = []
                for try await order in group { orders.append(order) }
                return orders
            }
            #expect(orders.count == count)
            #expect(orders.allSatisfy { Set($0) == Set((0..<Int64(count))) && $0.count == count })
            #expect(Set(orders).count == 1, "clients saw different orders")
        }
    }
}
