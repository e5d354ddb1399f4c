import Foundation
import TestSupport
import Testing

/// `status.engine` and `connectors.list`, through a real engine process.
struct EngineOverviewTests {
    @Test func aFreshEngineHasNoConnectorAndSaysWhatItIs() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        #expect(try await engine.stdio.call("connectors.list").at("result", "items") as? [Any] != nil)
        #expect((try await engine.stdio.call("connectors.list").at("result", "items") as? [Any])?.isEmpty == true)
        let status = try await engine.stdio.call("status.engine")
        #expect(status.int("result", "connectors", "total") == 0)
        #expect(status.int("result", "connectors", "byState", "unconfigured") == 0)
        #expect(status.string("result", "store", "kind") == "sqlite")
        #expect(status.at("result", "store", "reachable") as? Bool == true)
        #expect(status.string("result", "node")?.isEmpty == false)
        #expect(status.string("result", "inqom", "circuit") == "closed")
        // A read creates nothing; a catalog upsert is a write.
        _ = try await engine.stdio.call("wizard.state")
        #expect(try await engine.stdio.call("status.engine").int("result", "connectors", "total") == 0)
        _ = try await engine.stdio.call("catalog.upsertDossiers", #"{"dossiers":[{"id":"d1","name":"Boulangerie","attributes":{}}]}"#)
        let listed = try await engine.stdio.call("connectors.list")
        #expect(listed.string("result", "items", 0, "connector") == "default")
        #expect(listed.string("result", "items", 0, "state") == "unconfigured")
        #expect(try await engine.stdio.call("status.engine").int("result", "connectors", "byState", "unconfigured") == 1)
    }

    @Test func theListAndTheTotalsFollowTheConnectorsStateAndDocuments() async throws {
        let harness = try await PushHarness()
        _ = try await harness.submit("d1", "Achats/a.pdf", content: "a")
        _ = try await harness.drain()
        let listed = try await harness.call("connectors.list")
        #expect(listed.string("result", "items", 0, "connector") == "default")
        #expect(listed.string("result", "items", 0, "state") == "active")
        #expect(listed.int("result", "items", 0, "documents", "transmitted") == 1)
        #expect(listed.string("result", "items", 0, "createdAt") != nil)
        #expect(listed.at("result", "nextCursor") == nil)
        let status = try await harness.call("status.engine")
        #expect(status.int("result", "documents", "transmitted") == 1)
        #expect(status.int("result", "connectors", "byState", "active") == 1)
        #expect(status.string("result", "inqom", "lastSuccessAt") != nil)

        _ = try await harness.expectResult("connector.pause")
        #expect(try await harness.call("status.engine").int("result", "connectors", "byState", "paused") == 1)
        #expect((try await harness.call("connectors.list", #"{"state":"active"}"#).at("result", "items") as? [Any])?.isEmpty == true)
        #expect(try await harness.call("connectors.list", #"{"state":"paused"}"#).string("result", "items", 0, "connector") == "default")
        #expect((try await harness.call("connectors.list", #"{"cursor":"default"}"#).at("result", "items") as? [Any])?.isEmpty == true)

        #expect(try await harness.call("connectors.list", #"{"limit":0}"#).errorCode == -32602)
        #expect(try await harness.call("connectors.list", #"{"state":"sleeping"}"#).errorCode == -32602)
    }
}
