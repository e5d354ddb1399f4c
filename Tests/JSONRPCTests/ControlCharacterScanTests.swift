import Testing

@testable import JSONRPC

/// Control characters in params are found wherever they hide, by the path
/// a client can act on, and escapes that are not controls pass.
struct ControlCharacterScanTests {
    @Test(arguments: [
        (#"{"documentId":"ID\u0000one"}"#, "documentId"),
        (#"{"a":"ok","b":{"c":[1,"x",{"d":"line\nbreak"}]}}"#, "b.c.2.d"),
        (#"{"collaborators":[{"email":"a@b.fr"},{"email":"victim@corp.fr\u0000.evil"}]}"#, "collaborators.1.email"),
        (#"{"dossiers":[{"attributes":{"SI\u001fRET":"1"}}]}"#, "dossiers.0.attributes.SI\u{1F}RET"),
        (#"{"tab":"\t"}"#, "tab"),
        (#"{"k\"ey":["\"", "\r"]}"#, "k\"ey.1"),
    ])
    func aControlCharacterIsFoundByItsPath(json: String, path: String) throws {
        #expect(try RawJSON(parsing: Array(json.utf8)).firstControlCharacterPath() == path)
    }

    @Test(arguments: [
        #"{"path":"Achats/f.pdf","n":[1,2,{"x":null}]}"#,
        #"{"escaped backslash then n":"a\\nb","quote":"\"","nbsp":"\u00a0","del":"\u007f","slash":"\/"}"#,
        #"{"":"", "e":"é\u00e9\u2028"}"#,
    ])
    func textWithoutControlCharactersPasses(json: String) throws {
        #expect(try RawJSON(parsing: Array(json.utf8)).firstControlCharacterPath() == nil)
    }
}
