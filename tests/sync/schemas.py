"""The Prisma schema the sync tests use: a scoped root (Post, owner = the scope key) with
children reached through a relation (Comment), a many-to-many relation (Post <-> Label, join
store ``_LabelToPost``), and an unscoped model with a unique field."""

BLOG = """
/// @@scope(owner)
model Post {
  id       String    @id
  owner    String
  title    String
  body     String?
  views    Int       @default(0)
  comments Comment[]
  labels   Label[]
}

model Comment {
  id     String @id
  postId String
  post   Post   @relation(fields: [postId], references: [id], onDelete: Cascade)
  text   String
}

model Label {
  id    String @id
  name  String
  posts Post[]
}

model Tag {
  id   String @id
  name String @unique
}
"""
