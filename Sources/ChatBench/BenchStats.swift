import Histogram
import NIOCore

/// What one event loop's clients measured. Touched only on that loop.
final class LoopStats {
    /// Delivery latency in microseconds (receive time minus intended send time).
    var latency = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var deliveries: UInt64 = 0
    var sent: UInt64 = 0
    /// Deliveries of messages intended inside the measurement window.
    var measuredDeliveries: UInt64 = 0
    var window: ClosedRange<UInt64> = 0...UInt64.max

    func record(intendedNanos: UInt64, receivedNanos: UInt64) {
        deliveries += 1
        guard window.contains(intendedNanos) else { return }
        measuredDeliveries += 1
        let micros = receivedNanos > intendedNanos ? (receivedNanos - intendedNanos) / 1000 : 0
        _ = latency.record(micros)
    }

    func reset(window: ClosedRange<UInt64>) {
        latency.reset()
        deliveries = 0
        sent = 0
        measuredDeliveries = 0
        self.window = window
    }
}

/// A snapshot of every loop's numbers, merged.
struct StatsSnapshot: Sendable {
    var latency = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var deliveries: UInt64 = 0
    var measuredDeliveries: UInt64 = 0
    var sent: UInt64 = 0

    mutating func add(_ stats: LoopStats) {
        latency.add(stats.latency)
        deliveries += stats.deliveries
        measuredDeliveries += stats.measuredDeliveries
        sent += stats.sent
    }
}

/// One `LoopStats` per event loop of the load generator.
final class StatsRegistry: Sendable {
    private let stats: [ObjectIdentifier: NIOLoopBound<LoopStats>]
    private let loops: [any EventLoop]

    init(group: any EventLoopGroup) {
        loops = Array(group.makeIterator())
        var stats: [ObjectIdentifier: NIOLoopBound<LoopStats>] = [:]
        for loop in loops {
            stats[ObjectIdentifier(loop)] = try! loop.submit { NIOLoopBound(LoopStats(), eventLoop: loop) }.wait()
        }
        self.stats = stats
    }

    /// The stats of `loop`; call on that loop.
    func local(_ loop: any EventLoop) -> LoopStats {
        stats[ObjectIdentifier(loop)]!.value
    }

    func snapshot() async throws -> StatsSnapshot {
        var total = StatsSnapshot()
        for loop in loops {
            let bound = stats[ObjectIdentifier(loop)]!
            let part = try await loop.submit { () -> StatsSnapshot in
                var part = StatsSnapshot()
                part.add(bound.value)
                return part
            }.get()
            total.latency.add(part.latency)
            total.deliveries += part.deliveries
            total.measuredDeliveries += part.measuredDeliveries
            total.sent += part.sent
        }
        return total
    }

    func reset(window: ClosedRange<UInt64>) async throws {
        for loop in loops {
            let bound = stats[ObjectIdentifier(loop)]!
            try await loop.submit { bound.value.reset(window: window) }.get()
        }
    }
}
