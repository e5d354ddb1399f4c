/// The four steps of the wizard for one connector against the stand-in, as
/// JSON-RPC methods and params: dossier `d1` (with the SIRET of the
/// stand-in's folder 11287) selected and mapped, the stand-in's login, one
/// rule for `Achats`, finished.
public enum StandInWizard {
    public static func steps(connector: String? = nil, dossierName: String) -> [(method: String, params: String)] {
        let scope = connector.map { #""connector":"\#($0)","# } ?? ""
        return [
            ("catalog.upsertDossiers", #"{\#(scope)"dossiers":[{"id":"d1","name":"\#(dossierName)","attributes":{"SIRET":"73282932000074"}}]}"#),
            ("wizard.selectDossiers", #"{\#(scope)"ids":["d1"],"selected":true}"#),
            ("wizard.connect", #"{\#(scope)"login":"\#(InqomStandIn.login)","password":"\#(InqomStandIn.password)","clientSecret":"\#(InqomStandIn.clientSecret)"}"#),
            ("wizard.mapDossiers", #"{\#(scope)"siretAttribute":"SIRET"}"#),
            ("rules.add", #"{\#(scope)"depositPath":"Achats","documentType":"facture_achat","period":"any"}"#),
            ("wizard.finish", #"{\#(scope.dropLast())}"#),
        ]
    }
}
