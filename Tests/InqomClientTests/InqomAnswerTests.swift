import Foundation
import Testing

@testable import InqomClient

/// protocol/inqom.md's table of answers, row by row, without a network.
struct InqomAnswerTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)

    private func response(_ status: Int, _ body: String = "", headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    @Test(arguments: [200, 201])
    func successIsNoError(status: Int) {
        #expect(InqomAnswer.apiError(response(status), now: now) == nil)
    }

    @Test func unauthorizedMeansTheTokenExpired() {
        #expect(InqomAnswer.apiError(response(401), now: now) == .tokenExpired)
    }

    @Test(arguments: [408, 425, 429, 500, 502, 503, 504])
    func transientStatusesAreRetriedLater(status: Int) {
        #expect(InqomAnswer.apiError(response(status), now: now)?.isTransient == true)
    }

    @Test(arguments: [400, 403, 404, 409, 413, 415, 422])
    func permanentStatusesKeepTheStartOfTheBody(status: Int) {
        let body = #"{"error":"refused"}"# + String(repeating: "x", count: 500) + "\nsecond line"
        guard case .permanent(let got, let start)? = InqomAnswer.apiError(response(status, body), now: now) else {
            Issue.record("\(status) not permanent")
            return
        }
        #expect(got == status)
        #expect(start.hasPrefix(#"{"error":"refused"}"#))
        #expect(start.count == 200)
    }

    @Test func retryAfterInSecondsOrAsAnHTTPDate() {
        #expect(InqomAnswer.retryAfter("120", now: now) == .seconds(120))
        let date = Date(timeInterval: 90, since: now)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(InqomAnswer.retryAfter(formatter.string(from: date), now: now) == .seconds(90))
        #expect(InqomAnswer.retryAfter(formatter.string(from: Date(timeInterval: -90, since: now)), now: now) == .zero)
        #expect(InqomAnswer.retryAfter("soon", now: now) == nil)
        #expect(InqomAnswer.retryAfter("-5", now: now) == nil)
        #expect(InqomAnswer.retryAfter(nil, now: now) == nil)
        let error = InqomAnswer.apiError(response(503, headers: ["retry-after": "7"]), now: now)
        #expect(error == .transient(status: 503, retryAfter: .seconds(7), detail: ""))
    }

    @Test func tokenRefusalsAreTold() {
        #expect(InqomAnswer.tokenError(response(400, #"{"error":"invalid_grant"}"#), now: now) == .invalidGrant)
        #expect(InqomAnswer.tokenError(response(400, #"{"error":"invalid_client"}"#), now: now) == .invalidClient)
        #expect(InqomAnswer.tokenError(response(401, #"{"error":"invalid_client"}"#), now: now) == .invalidClient)
        #expect(InqomAnswer.tokenError(response(401), now: now) == .invalidClient)
        #expect(InqomAnswer.tokenError(response(503), now: now)?.isTransient == true)
        #expect(InqomAnswer.tokenError(response(200), now: now) == nil)
        // A deep body is refused before a decoder sees it: still a plain 400.
        let deep = String(repeating: "[", count: 600)
        if case .permanent(400, _)? = InqomAnswer.tokenError(response(400, deep), now: now) {} else {
            Issue.record("deep token body not handled as a plain refusal")
        }
    }

    @Test func siretIsSirenAndPaddedNic() {
        let folder = AccountingFolder(id: 1, name: "A", siren: "732829320", nic: "74", companyID: nil, status: nil)
        #expect(folder.siret == "73282932000074")
        #expect(AccountingFolder(id: 2, name: "B", siren: "732829320", nic: nil, companyID: nil, status: nil).siret == nil)
        #expect(AccountingFolder(id: 3, name: "C", siren: "", nic: "1", companyID: nil, status: nil).siret == nil)
    }

    @Test func contentTypesFollowTheExtension() {
        #expect(UploadFile(path: "/x", fileName: "Facture.PDF").contentType == "application/pdf")
        #expect(UploadFile(path: "/x", fileName: "scan.jpeg").contentType == "image/jpeg")
        #expect(UploadFile(path: "/x", fileName: "f.tif").contentType == "image/tiff")
        #expect(UploadFile(path: "/x", fileName: "export.xml").contentType == "application/xml")
        #expect(UploadFile(path: "/x", fileName: "setup.exe").contentType == "application/octet-stream")
        #expect(UploadFile(path: "/x", fileName: "noextension").contentType == "application/octet-stream")
    }
}
