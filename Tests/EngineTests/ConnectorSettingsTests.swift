import Testing

@testable import Engine

/// The one rule that says what state the connector's settings put it in.
struct ConnectorSettingsTests {
    private static func finished(_ edit: (inout ConnectorSettings) -> Void = { _ in }) -> ConnectorSettings {
        var settings = ConnectorSettings(finishedAt: "2026-12-04T10:00:00Z", login: "cabinet", sealedCredentials: "sealed")
        edit(&settings)
        return settings
    }

    @Test func beforeTheWizardsEndTheConnectorIsConfiguringOnceAnythingIsChosen() {
        #expect(ConnectorSettings().status { false } == .init(state: .unconfigured, reason: nil))
        #expect(ConnectorSettings().status { true } == .init(state: .configuring, reason: nil))
        #expect(ConnectorSettings(siretAttribute: "SIRET").status { false }.state == .configuring)
        #expect(ConnectorSettings(sealedCredentials: "sealed").status { false }.state == .configuring)
        // Credentials that do not open are no connection.
        #expect(ConnectorSettings(sealedCredentials: "sealed", credentialsUnreadable: true).status { false }.state == .unconfigured)
    }

    @Test func afterItTheSettingsSayWhetherItSendsAndWhyNot() {
        #expect(Self.finished().status { false } == .init(state: .active, reason: nil))
        #expect(Self.finished { $0.paused = true }.status { false } == .init(state: .paused, reason: nil))
        #expect(Self.finished { $0.tokenRefused = true }.status { false } == .init(state: .disconnected, reason: "inqom_refused_credentials"))
        #expect(
            Self.finished { $0.credentialsUnreadable = true }.status { false }
                == .init(state: .disconnected, reason: "credentials_unreadable"))
        #expect(Self.finished { $0.sealedCredentials = nil }.status { false } == .init(state: .disconnected, reason: "not_connected"))
    }

    @Test func onlyAChangeOfStateIsAnEvent() {
        #expect(ConnectorSettings.stateEvent(from: .active, to: .active, reason: "x") == nil)
        #expect(ConnectorSettings.stateEvent(from: .active, to: .paused, reason: nil) == ["state": .text("paused"), "reason": .null])
    }
}
