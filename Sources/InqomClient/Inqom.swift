import Foundation

/// What Inqom calls an accounting folder: the dossier on Inqom's side.
public struct AccountingFolder: Codable, Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let siren: String?
    public let nic: String?
    public let companyID: Int64?
    public let status: String?

    public init(id: Int64, name: String, siren: String?, nic: String?, companyID: Int64?, status: String?) {
        self.id = id
        self.name = name
        self.siren = siren
        self.nic = nic
        self.companyID = companyID
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", siren = "Siren", nic = "Nic", companyID = "CompanyId", status = "Status"
    }

    /// `Siren` + `Nic` (left-padded to 5 digits), or nil when either is missing.
    public var siret: String? {
        guard let siren = siren?.trimmingCharacters(in: .whitespaces), !siren.isEmpty,
            let nic = nic?.trimmingCharacters(in: .whitespaces), !nic.isEmpty, nic.count <= 5
        else { return nil }
        return siren + String(repeating: "0", count: 5 - nic.count) + nic
    }
}

/// A bearer token and when it stops being valid.
public struct AccessToken: Sendable {
    public let value: String
    public let expiresAt: Date

    public init(value: String, expiresAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// What Inqom's login needs; the engine keeps these encrypted.
public struct InqomCredentials: Sendable, Equatable {
    public let login: String
    public let password: String
    public let clientSecret: String

    public init(login: String, password: String, clientSecret: String) {
        self.login = login
        self.password = password
        self.clientSecret = clientSecret
    }
}

/// `TypeScan` of the Documents endpoint.
public enum TypeScan: String, Sendable {
    case supplier = "Supplier"
    case client = "Client"
    case others = "Others"
}

/// A file to send: where it is, and the name Inqom should show.
public struct UploadFile: Sendable {
    public let path: String
    public let fileName: String

    public init(path: String, fileName: String) {
        self.path = path
        self.fileName = fileName
    }

    /// The content type the file name's extension gives.
    public var contentType: String {
        let types = [
            "pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
            "tif": "image/tiff", "tiff": "image/tiff", "gif": "image/gif", "bmp": "image/bmp",
            "heic": "image/heic", "webp": "image/webp", "xml": "application/xml", "txt": "text/plain",
            "csv": "text/csv",
        ]
        let ext = (fileName as NSString).pathExtension.lowercased()
        return types[ext] ?? "application/octet-stream"
    }
}

/// Inqom's receipt for an upload.
public struct UploadReceipt: Sendable, Equatable {
    public let inqomDocumentID: Int64
    /// Inqom recognised bytes it already had: still a success.
    public let duplicate: Bool
}
