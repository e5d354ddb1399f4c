import Foundation
import Store

/// The database's check of the master key: a constant sealed under the key
/// of the first engine that started on it. Every engine of a deployment
/// must be given that key; one given another cannot open the check and
/// refuses to start, before it writes a secret the others could not read.
public enum PostgresKeyCheck {
    static let plaintext = Array("pushdoc master key check".utf8)

    /// Records the check under `box`'s key if the database has none, else
    /// opens it; throws `MasterKeyMismatch` when the key is another.
    public static func verify(_ box: SecretBox, on connection: PostgresConnection) throws {
        let sealed = try box.seal(plaintext)
        let kept = try connection.transaction { () -> String? in
            // Engines starting together: one creates the table and its row, the others read it.
            try connection.execute("SELECT pg_advisory_xact_lock($1::bigint)", [PostgresMigrator.lockKey])
            try connection.execute(
                "CREATE TABLE IF NOT EXISTS master_key_check (id integer PRIMARY KEY CHECK (id = 1), sealed text NOT NULL)")
            try connection.execute(
                "INSERT INTO master_key_check VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [Data(sealed).base64EncodedString()])
            return try connection.execute("SELECT sealed FROM master_key_check WHERE id = 1").rows.first?[0] ?? nil
        }
        guard let kept, let bytes = Data(base64Encoded: kept), (try? box.open(Array(bytes))) == plaintext else {
            throw MasterKeyMismatch()
        }
    }
}

public struct MasterKeyMismatch: Error, CustomStringConvertible {
    public var description: String {
        "the master key is not the one this database's secrets are sealed with: every engine must be given the same key"
    }
}
