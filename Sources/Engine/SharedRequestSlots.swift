import Foundation
import InqomClient
import Store

/// One connector's request slots in the deployment's PostgreSQL database,
/// on the database's clock (the engines' clocks may differ a little): each
/// slot taken is one statement, its row locked only while it runs.
struct SharedRequestSlots: SlotLedger {
    let storage: PostgresAccess
    let connector: ConnectorName

    func takeSlot(spacing: Duration) throws -> Duration {
        let seconds = Double(spacing.components.seconds) + Double(spacing.components.attoseconds) / 1e18
        let wait = try storage.writeBlocking { [connector] connection in
            try connection.rows(
                """
                INSERT INTO request_slots (connector, next_slot) VALUES (?1, extract(epoch FROM clock_timestamp()) + ?2)
                ON CONFLICT (connector) DO UPDATE
                    SET next_slot = greatest(request_slots.next_slot, extract(epoch FROM clock_timestamp())) + ?2
                RETURNING next_slot - ?2 - extract(epoch FROM clock_timestamp())
                """, [connector.sql, .real(seconds)]
            ) { try $0.double(0) }.first ?? 0
        }
        return .seconds(max(wait, 0))
    }
}
