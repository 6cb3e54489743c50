/// Which embedding of an image (`embeddings.view`): as is, or of the horizontally flipped image.
public enum View: String, Codable, CaseIterable, Sendable {
    case orig, hflip
}
